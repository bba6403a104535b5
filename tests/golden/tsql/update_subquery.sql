UPDATE dw.t SET total = (SELECT SUM(o.amount) FROM sales.orders o WHERE o.id = t.id)
