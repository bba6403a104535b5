MERGE INTO dw.dim_account t
USING (
    SELECT s.account_id AS merge_key, s.account_id, s.tier, s.loaded_at
    FROM staging.accounts s
    UNION ALL
    SELECT NULL, s.account_id, s.tier, s.loaded_at
    FROM staging.accounts s
    WHERE s.change_type = 'update'
) src
ON t.account_id = src.merge_key
WHEN MATCHED AND t.is_current AND t.tier <> src.tier THEN
    UPDATE SET is_current = FALSE, valid_to = src.loaded_at
WHEN NOT MATCHED THEN
    INSERT (account_id, tier, valid_from, is_current)
    VALUES (src.account_id, src.tier, src.loaded_at, TRUE);
