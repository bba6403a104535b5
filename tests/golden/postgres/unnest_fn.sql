CREATE TABLE dw.t AS SELECT id, unnest(tags) AS tag FROM blog.posts
