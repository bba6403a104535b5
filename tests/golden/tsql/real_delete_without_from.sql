DELETE Dimension.City;
delete Comments where id > 2
