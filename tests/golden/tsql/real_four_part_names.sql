insert into srv.db.dbo.t1 (a) select a from srv.db.dbo.t2
