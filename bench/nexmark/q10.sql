-- q10: log to file system: every bid with its day and minute (the partitions of the published
-- query's file sink; sluice has no file sink, so this is the query only). DATE_FORMAT /
-- to_char are written with casts: 'YYYY-MM-DD' is the DATE's text, 'HH:mm' characters 12-16
-- of the TIMESTAMP's text.
SELECT auction, bidder, price, date_time, extra,
       CAST(CAST(date_time AS DATE) AS VARCHAR) AS dt,
       substr(CAST(date_time AS VARCHAR), 12, 5) AS hm
FROM bid
