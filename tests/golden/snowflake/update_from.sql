UPDATE dw.t SET v = s.v FROM raw.src s WHERE t.id = s.id
