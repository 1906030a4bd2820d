-- q0: pass-through. Measures the cost of reading, decoding and emitting every bid.
SELECT auction, bidder, price, date_time, extra
FROM bid
