-- The exact filing a job analyses for its current year (issue 24: a 10-K/A replaces the
-- analysis of its year): an EDGAR accession number, or a file name of the local filing
-- directory such as `2024.10-KA.html`. NULL: the year's lookup picks the original 10-K.
ALTER TABLE jobs ADD COLUMN filing_key text;
