UPDATE d
SET d.ValidTo = s.LoadDate,
    d.IsCurrent = 0
FROM dw.DimCustomer AS d
INNER JOIN staging.Customer AS s ON s.CustomerId = d.CustomerId
WHERE d.IsCurrent = 1
  AND (d.City <> s.City OR d.Segment <> s.Segment);

INSERT INTO dw.DimCustomer (CustomerId, City, Segment, ValidFrom, ValidTo, IsCurrent)
SELECT s.CustomerId, s.City, s.Segment, s.LoadDate, NULL, 1
FROM staging.Customer AS s
WHERE NOT EXISTS (
    SELECT 1 FROM dw.DimCustomer AS d
    WHERE d.CustomerId = s.CustomerId AND d.IsCurrent = 1
);
