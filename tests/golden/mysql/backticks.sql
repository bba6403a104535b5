INSERT INTO `dw`.`t` (id) SELECT `id` FROM `s`.`x`
