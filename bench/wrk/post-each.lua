-- POST a different form body per request, from a file of one body per line: thread k of n sends
-- lines k, k+n, k+2n… so no body is sent twice unless the file runs out (the harness compares the
-- request count with the line count and reports any reuse).
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local report = require("report")

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local bodies = {}
local i, step = 1, 1
function init(args)
  for line in io.lines(os.getenv("BENCH_BODY_FILE")) do table.insert(bodies, line) end
  step = tonumber(os.getenv("BENCH_THREADS"))
  i = id + 1
end

local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
function request()
  if i > #bodies then i = (i - 1) % #bodies + 1 end
  local body = bodies[i]
  i = i + step
  return wrk.format("POST", nil, headers, body)
end

done = report.done
