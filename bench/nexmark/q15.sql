-- q15: bidding statistics per day: bids, bidders and auctions in three price ranges.
-- The published `count(...) FILTER (WHERE c)` is written `count(CASE WHEN c THEN ... END)`
-- (the same: count ignores NULLs), and to_char(date_time, 'YYYY-MM-DD') as the DATE's text.
SELECT day,
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
FROM (SELECT CAST(CAST(date_time AS DATE) AS VARCHAR) AS day, price, bidder, auction FROM bid) AS b
GROUP BY day
