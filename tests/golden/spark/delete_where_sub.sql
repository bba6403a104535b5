DELETE FROM dw.t WHERE id IN (SELECT id FROM sales.bad)
