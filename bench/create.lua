-- wrk: POST /v1/articles with a fresh headline each time (one thread: one counter).
local key = os.getenv("BENCH_KEY")
local run = os.getenv("BENCH_RUN")
local counter = 0

request = function()
  counter = counter + 1
  local body = string.format(
    '{"headline": "Bench create %s %d", "dek": "A short dek.", "category": "Bench", ' ..
    '"authors": ["Load Tester"], "takeaways": ["One takeaway."], "tags": ["bench"], ' ..
    '"sections": [{"heading": null, "paragraphs": ["A paragraph written by the create benchmark."]}]}',
    run, counter)
  return wrk.format("POST", "/v1/articles", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end

dofile(os.getenv("BENCH_REPORT_LUA"))
