-- The reconciler looks, every pass, for finished jobs with a callback that have no
-- webhook delivery row (store/jobs.py finished_without_delivery): a range of finished_at
-- over the last two days or so. This index holds only the jobs that send a webhook, so
-- that range skips the rest (cancelled jobs, jobs without a callback_url, unfinished ones).
CREATE INDEX jobs_finished_with_callback ON jobs (finished_at)
    WHERE status IN ('completed', 'failed') AND callback_url IS NOT NULL;
