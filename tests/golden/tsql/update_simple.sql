UPDATE dw.t SET amount = amount * 2 WHERE id = 1
