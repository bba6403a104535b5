CREATE TABLE dw.dim_product (product_id int, product_name text, category text);
