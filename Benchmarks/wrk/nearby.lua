-- Random points within ~20 km of the seeded city centre (FLOW_BENCH_LAT/LNG), radius 10 km, 20 results.
local lat0 = tonumber(os.getenv("FLOW_BENCH_LAT") or "38.7223")
local lng0 = tonumber(os.getenv("FLOW_BENCH_LNG") or "-9.1393")
math.randomseed(os.time())
request = function()
  local lat = lat0 + (math.random() - 0.5) * 0.36
  local lng = lng0 + (math.random() - 0.5) * 0.46
  return wrk.format("GET", string.format("/api/v1/events/nearby?lat=%.5f&lng=%.5f&radius=10&limit=20", lat, lng))
end
