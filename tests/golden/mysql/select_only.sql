SELECT a, b FROM sales.orders WHERE a > 1
