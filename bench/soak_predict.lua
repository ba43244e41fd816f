-- wrk script for bench/soak.sh: native predict on iris, one row per request, with a
-- short pause between requests so wrk does not take both cores from the other workers.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'

function delay()
    return 2
end
