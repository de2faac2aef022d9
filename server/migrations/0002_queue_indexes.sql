-- The scheduler reads the queue by state, then priority and age; history pages read a user's jobs.
CREATE INDEX jobs_queue ON jobs(state, priority DESC, created_at, id);
CREATE INDEX jobs_owner ON jobs(owner_id, created_at DESC);
CREATE INDEX jobs_printer ON jobs(printer_id, state);
CREATE INDEX generation_requests_status ON generation_requests(status, created_at);
