-- Full-text queries drawn from the words seeded titles and descriptions use, 20 results.
local words = { "jazz", "fado", "yoga", "swift meetup", "wine tasting", "coastal hike", "book club", "film", "pottery workshop",
  "street food", "sunset run", "language exchange", "alfama", "rooftop dj", "hackathon", "gallery opening", "kayak", "vegan supper" }
math.randomseed(os.time())
request = function()
  local q = words[math.random(#words)]:gsub(" ", "%%20")
  return wrk.format("GET", "/api/v1/events?q=" .. q .. "&limit=20")
end
