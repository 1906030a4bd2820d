-- q20: expand bid with auction: every bid joined with its auction, for auctions of category 10.
SELECT auction, bidder, price, channel, url, B.date_time AS bid_date_time, item_name, description,
       initial_bid, reserve, A.date_time AS auction_date_time, expires, seller, category
FROM bid AS B
JOIN auction AS A ON B.auction = A.id
WHERE A.category = 10
