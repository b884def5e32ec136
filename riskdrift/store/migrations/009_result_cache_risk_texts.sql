-- The risk texts a cached result was computed from, by fiscal year: a job answered from
-- the cache stores them for its tenant's /risks/search as a computed one does. Entries
-- written before this column (NULL) are misses, recomputed and replaced on their next use.
ALTER TABLE result_cache ADD COLUMN risk_factors jsonb;
