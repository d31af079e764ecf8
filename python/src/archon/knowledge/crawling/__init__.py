"""Web crawling: SSRF guard, URL rules, discovery (llms.txt, sitemaps, links), fetching, markdown, jobs."""
