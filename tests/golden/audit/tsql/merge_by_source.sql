MERGE dbo.DimCustomer AS t
USING (SELECT CustomerId, Email FROM staging.Customer WHERE IsCurrent = 1) AS s
ON t.CustomerId = s.CustomerId
WHEN MATCHED AND t.Email <> s.Email THEN UPDATE SET Email = s.Email
WHEN NOT MATCHED BY TARGET THEN INSERT (CustomerId, Email) VALUES (s.CustomerId, s.Email)
WHEN NOT MATCHED BY SOURCE THEN DELETE;
