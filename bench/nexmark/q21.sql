-- q21: add channel id: the four well-known channels get a fixed id, the others the channel_id
-- parameter of their URL; bids with neither are dropped. The published
-- regexp_match(url, '(&|^)channel_id=([^&]*)') is written with LIKE and split_part, which is the
-- same for the generator's URLs (channel_id never starts them; it always follows '&').
SELECT auction, bidder, price, channel,
       CASE
         WHEN lower(channel) = 'apple' THEN '0'
         WHEN lower(channel) = 'google' THEN '1'
         WHEN lower(channel) = 'facebook' THEN '2'
         WHEN lower(channel) = 'baidu' THEN '3'
         ELSE CASE WHEN url LIKE '%&channel_id=%' THEN split_part(split_part(url, '&channel_id=', 2), '&', 1) END
       END AS channel_id
FROM bid
WHERE url LIKE '%&channel_id=%' OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')
