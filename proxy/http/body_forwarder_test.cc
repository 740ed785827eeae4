#include "proxy/http/body_forwarder.h"

#include <string>

#include "gtest/gtest.h"

namespace tollgate {
namespace {

std::string Drain(IOBufferReader* reader) {
  std::string out(static_cast<size_t>(reader->ReadAvail()), '\0');
  reader->Read(out.data(), static_cast<int64_t>(out.size()));
  return out;
}

TEST(BodyForwarderTest, LengthBodyStopsAtItsEndAndLeavesThePipelinedRequest) {
  MIOBuffer in;
  IOBufferReader* in_reader = in.AllocReader();
  in.Write("0123456789GET / HTTP/1.1\r\n");
  MIOBuffer out;
  IOBufferReader* out_reader = out.AllocReader();
  BodyForwarder body;
  body.Start(BodyForwarder::Mode::kLength, 10);
  BodyForwarder::Step step = body.Move(*in_reader, &out, 1 << 20);
  EXPECT_EQ(step.appended, 10);
  EXPECT_TRUE(body.done());
  EXPECT_EQ(Drain(out_reader), "0123456789");
  EXPECT_EQ(Drain(in_reader), "GET / HTTP/1.1\r\n");
}

TEST(BodyForwarderTest, LengthBodyHonoursTheBudgetAcrossCalls) {
  MIOBuffer in;
  IOBufferReader* in_reader = in.AllocReader();
  in.Write(std::string(1000, 'x'));
  MIOBuffer out;
  IOBufferReader* out_reader = out.AllocReader();
  BodyForwarder body;
  body.Start(BodyForwarder::Mode::kLength, 1000);
  EXPECT_EQ(body.Move(*in_reader, &out, 300).appended, 300);
  EXPECT_FALSE(body.done());
  EXPECT_EQ(body.Move(*in_reader, &out, 1000).appended, 700);
  EXPECT_TRUE(body.done());
  EXPECT_EQ(Drain(out_reader), std::string(1000, 'x'));
}

TEST(BodyForwarderTest, ChunkedRawForwardsTheFramingByteExactAndStopsAtTheLastChunk) {
  const std::string chunked = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
  MIOBuffer in;
  IOBufferReader* in_reader = in.AllocReader();
  MIOBuffer out;
  IOBufferReader* out_reader = out.AllocReader();
  BodyForwarder body;
  body.Start(BodyForwarder::Mode::kChunkedRaw);
  // One byte at a time: every split point of the framing.
  for (char c : chunked) {
    in.Write(&c, 1);
    ASSERT_EQ(body.Move(*in_reader, &out, 1 << 20).error, HttpError::kNone);
  }
  in.Write("NEXT");
  body.Move(*in_reader, &out, 1 << 20);
  EXPECT_TRUE(body.done());
  EXPECT_EQ(Drain(out_reader), chunked);
  EXPECT_EQ(Drain(in_reader), "NEXT");
}

TEST(BodyForwarderTest, ChunkedDecodeForwardsOnlyTheData) {
  MIOBuffer in;
  IOBufferReader* in_reader = in.AllocReader();
  in.Write("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  MIOBuffer out;
  IOBufferReader* out_reader = out.AllocReader();
  BodyForwarder body;
  body.Start(BodyForwarder::Mode::kChunkedDecode);
  body.Move(*in_reader, &out, 1 << 20);
  EXPECT_TRUE(body.done());
  EXPECT_EQ(Drain(out_reader), "hello world");
}

TEST(BodyForwarderTest, MalformedChunkSizeIsAnError) {
  MIOBuffer in;
  IOBufferReader* in_reader = in.AllocReader();
  in.Write("zz\r\nhello\r\n");
  MIOBuffer out;
  BodyForwarder body;
  body.Start(BodyForwarder::Mode::kChunkedRaw);
  EXPECT_EQ(body.Move(*in_reader, &out, 1 << 20).error, HttpError::kBadChunkSize);
  EXPECT_FALSE(body.done());
}

TEST(BodyForwarderTest, UntilCloseEndsOnlyAtEofAndLengthBodiesCutShortAreReported) {
  MIOBuffer in;
  IOBufferReader* in_reader = in.AllocReader();
  in.Write("abc");
  MIOBuffer out;
  BodyForwarder body;
  body.Start(BodyForwarder::Mode::kUntilClose);
  EXPECT_EQ(body.Move(*in_reader, &out, 1 << 20).appended, 3);
  EXPECT_FALSE(body.done());
  EXPECT_TRUE(body.FinishAtEof());
  EXPECT_TRUE(body.done());

  BodyForwarder length;
  length.Start(BodyForwarder::Mode::kLength, 10);
  EXPECT_FALSE(length.FinishAtEof());
}

TEST(BodyForwarderTest, NoBodyAndZeroLengthAreDoneAtOnce) {
  BodyForwarder none;
  none.Start(BodyForwarder::Mode::kNone);
  EXPECT_TRUE(none.done());
  BodyForwarder zero;
  zero.Start(BodyForwarder::Mode::kLength, 0);
  EXPECT_TRUE(zero.done());
}

}  // namespace
}  // namespace tollgate
