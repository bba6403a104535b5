UNLOAD ('select a from t') TO 's3://b/x' IAM_ROLE 'r';
COPY t FROM 's3://b/y' IAM_ROLE 'r';
