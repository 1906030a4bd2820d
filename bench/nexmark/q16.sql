-- q16: channel statistics per day: as q15, per channel, with the latest minute seen.
-- FILTER and to_char are rewritten as in q15; 'HH:mm' is characters 12-16 of the TIMESTAMP's text.
SELECT channel, day, max(minute) AS minute,
       count(*) AS total_bids,
       count(CASE WHEN price < 10000 THEN 1 END) AS rank1_bids,
       count(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 END) AS rank2_bids,
       count(CASE WHEN price >= 1000000 THEN 1 END) AS rank3_bids,
       count(DISTINCT bidder) AS total_bidders,
       count(DISTINCT CASE WHEN price < 10000 THEN bidder END) AS rank1_bidders,
       count(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN bidder END) AS rank2_bidders,
       count(DISTINCT CASE WHEN price >= 1000000 THEN bidder END) AS rank3_bidders,
       count(DISTINCT auction) AS total_auctions,
       count(DISTINCT CASE WHEN price < 10000 THEN auction END) AS rank1_auctions,
       count(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN auction END) AS rank2_auctions,
       count(DISTINCT CASE WHEN price >= 1000000 THEN auction END) AS rank3_auctions
FROM (SELECT channel, CAST(CAST(date_time AS DATE) AS VARCHAR) AS day,
             substr(CAST(date_time AS VARCHAR), 12, 5) AS minute, price, bidder, auction
      FROM bid) AS b
GROUP BY channel, day
