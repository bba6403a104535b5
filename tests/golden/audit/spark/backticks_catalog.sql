INSERT INTO `spark_catalog`.`mart`.`Orders_Clean`
SELECT `Id`, TRIM(`Name`) AS name FROM `spark_catalog`.raw.orders;
