-- q18: find the last bid of each bidder on each auction (dedup by the latest; extra breaks
-- ties so the result is deterministic, as in RisingWave's version).
SELECT auction, bidder, price, channel, url, date_time, extra
FROM (
  SELECT auction, bidder, price, channel, url, date_time, extra,
         ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC, extra) AS rank_number
  FROM bid
) AS b
WHERE rank_number <= 1
