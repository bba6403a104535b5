UPDATE dw.t JOIN crm.c ON t.cid = c.id SET t.name = c.name
