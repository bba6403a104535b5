CREATE TABLE dw.fact_sales (sale_id int, product_id int, qty int, price numeric);
