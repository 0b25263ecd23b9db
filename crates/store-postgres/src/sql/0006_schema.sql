-- Schema version 6: room in the pages of `codes` for the updates every document makes.
--
-- Each document rewrites the state of each of its codes. With half of every page left free
-- when the states are first written (emission), the new version of a state goes into the
-- same page as the old one: a HOT update, with no new entry in the primary key and the old
-- version pruned in place later. Without it, pages are full from the start and every
-- update writes a new page and a new index entry (and the table and its index bloat).
-- Pages written before this version keep their layout until rewritten.
ALTER TABLE codes SET (fillfactor = 50);
