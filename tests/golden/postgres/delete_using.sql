DELETE FROM dw.t USING sales.bad b WHERE dw.t.id = b.id
