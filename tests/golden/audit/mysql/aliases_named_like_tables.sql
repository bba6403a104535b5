INSERT INTO report.product_categories (product, category)
SELECT categories.name, products.name
FROM shop.products AS categories
JOIN shop.categories AS products ON products.id = categories.category_id;
