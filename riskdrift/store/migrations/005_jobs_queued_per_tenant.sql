-- The per-tenant queued-jobs cap is checked inside the INSERT of every submission
-- (store/jobs.py create_job), counting at most `cap` of the tenant's queued jobs. This
-- index holds only queued rows, keyed by tenant, so that count reads one tenant's entries
-- instead of every tenant's queued and processing jobs (jobs_unfinished).
CREATE INDEX jobs_tenant_queued ON jobs (tenant) WHERE status = 'queued';
