CREATE TABLE `report`.`order_summary` AS
SELECT `o`.`id`,
       CASE `o`.`status` WHEN 'P' THEN 'paid' WHEN 'R' THEN 'refunded' ELSE 'other' END AS status_label
FROM `shop`.`orders` `o`;
