CREATE TABLE `proj.dw.t` AS SELECT id, amount FROM `proj.sales.orders`
