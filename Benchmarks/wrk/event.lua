-- GET /api/v1/events/{id} over the ids listed (one per line) in FLOW_BENCH_IDS.
local ids = {}
for line in io.lines(os.getenv("FLOW_BENCH_IDS")) do ids[#ids + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/events/" .. ids[math.random(#ids)])
end
