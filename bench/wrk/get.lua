-- GET the URL as given (the trivial route, the origin called directly).
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local report = require("report")
local header = os.getenv("BENCH_AUTHORIZATION")
if header and header ~= "" then wrk.headers["Authorization"] = header end
done = report.done
