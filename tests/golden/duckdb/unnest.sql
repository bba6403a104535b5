CREATE TABLE dw.t AS SELECT id, UNNEST(tags) AS tag FROM blog.posts
