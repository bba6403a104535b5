GRANT SELECT ON dbo.t TO reader
GRANT EXECUTE ON dbo.p TO role_x
DENY DELETE ON dbo.t TO reader
REVOKE SELECT ON dbo.t FROM reader
