DELETE t FROM dw.t t JOIN sales.bad b ON t.id = b.id
