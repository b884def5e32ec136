-- Results are 0.1-0.6 MB of JSON each, stored (TOASTed) once per job and once per cache
-- entry. lz4 compresses them 2-3x faster than the default pglz, and smaller (a 0.5 MB
-- result: insert 4.6-6.0 ms against 11.7-15.2 ms, 129 kB stored against 184 kB,
-- docs/BENCHMARKS.md). A server built without lz4 keeps pglz: nothing else changes.
DO $$
BEGIN
    ALTER TABLE analysis_results ALTER COLUMN result SET COMPRESSION lz4;
    ALTER TABLE result_cache ALTER COLUMN result SET COMPRESSION lz4;
    ALTER TABLE result_cache ALTER COLUMN risk_factors SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available on this server: results stay pglz-compressed';
END
$$;
