WITH src AS (
    SELECT ProductId, Price, Currency, EffectiveDate
    FROM staging.PriceFeed
    WHERE Currency = 'EUR'
)
MERGE dw.ProductPrice AS t
USING src AS s
ON t.ProductId = s.ProductId
WHEN MATCHED AND t.Price <> s.Price THEN
    UPDATE SET t.Price = s.Price, t.UpdatedAt = s.EffectiveDate
WHEN NOT MATCHED BY TARGET THEN
    INSERT (ProductId, Price, UpdatedAt) VALUES (s.ProductId, s.Price, s.EffectiveDate);
