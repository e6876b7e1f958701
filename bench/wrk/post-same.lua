-- POST the same form body on every request (the repeated-subject-token exchange).
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local report = require("report")
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*l")
f:close()
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
done = report.done
