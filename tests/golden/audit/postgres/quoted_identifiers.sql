INSERT INTO "Mart"."DailySales" ("Day", total)
SELECT "OrderDate", SUM(Amount) FROM public."Orders" GROUP BY "OrderDate";
