COPY INTO @stage/x FROM (SELECT a FROM t);
COPY INTO t FROM @stage/y;
