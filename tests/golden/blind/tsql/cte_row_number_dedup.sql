WITH ranked AS (
    SELECT CustomerId, Email, Phone, ModifiedDate,
           ROW_NUMBER() OVER (PARTITION BY CustomerId ORDER BY ModifiedDate DESC) AS rn
    FROM crm.CustomerHistory
)
INSERT INTO dw.CustomerLatest (CustomerId, Email, Phone)
SELECT CustomerId, Email, Phone FROM ranked WHERE rn = 1;
