INSERT INTO `db`.`t` (id) SELECT `id` FROM `db`.`s`
