#include "modelpool/speech.h"

#include <gtest/gtest.h>

namespace modelpool::speech {
namespace {

TEST(Speech, TranscriptionRequestRoundTrips) {
  TranscribeOptions options;
  options.language = "en";
  options.word_timestamps = true;
  Request r = transcription_request(Buffer::copy("RIFF....WAVE"), options);
  Result<AudioInput> in = read_transcription(r);
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_EQ(in->file.view(), "RIFF....WAVE");
  EXPECT_EQ(in->options.language, "en");
  EXPECT_TRUE(in->options.word_timestamps);
  // The file is a view of the request's tensor, not a copy.
  EXPECT_EQ(in->file.owner(), r.inputs[0].data.owner());
}

TEST(Speech, TranscriptionRequestsAreChecked) {
  Request r = transcription_request(Buffer::copy("x"), {});
  r.parameters.set("beam", std::int64_t{5});
  EXPECT_NE(read_transcription(r).status().message().find("beam"), std::string::npos);

  Request samples;
  samples.inputs.push_back(Tensor{"audio", "INT16", {4}, Buffer::copy(std::string(8, '\0'))});
  EXPECT_NE(read_transcription(samples).status().message().find("'sample_rate' is required"), std::string::npos);
  samples.parameters.set("sample_rate", std::int64_t{8000});
  Result<AudioInput> in = read_transcription(samples);
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_EQ(in->sample_type, "INT16");
  EXPECT_EQ(in->sample_rate, 8000);

  Request none;
  EXPECT_NE(read_transcription(none).status().message().find("missing input 'audio'"), std::string::npos);
  Request file_with_rate = transcription_request(Buffer::copy("x"), {});
  file_with_rate.parameters.set("sample_rate", std::int64_t{8000});
  EXPECT_FALSE(read_transcription(file_with_rate).ok());
}

TEST(Speech, TranscriptOutputsRoundTrip) {
  Transcript t{"hello world", "en", 1.5, {{0.0, 1.5, "hello world"}}, {{0.1, 0.5, "hello"}, {0.6, 1.2, "world"}}};
  Result<Transcript> back = read_transcript(transcript_outputs(t));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->text, "hello world");
  EXPECT_EQ(back->language, "en");
  EXPECT_FLOAT_EQ(static_cast<float>(back->duration), 1.5f);
  ASSERT_EQ(back->words.size(), 2u);
  EXPECT_EQ(back->words[1].text, "world");
  EXPECT_FLOAT_EQ(static_cast<float>(back->words[1].start), 0.6f);
  EXPECT_FALSE(read_transcript({}).ok());
}

TEST(Speech, SpeechRequestsAreChecked) {
  Result<SpeechInput> in = read_speech(speech_request("Hello.", {"slt", 1.5, "mp3"}));
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_EQ(in->text, "Hello.");
  EXPECT_EQ(in->options.voice, "slt");
  EXPECT_EQ(in->options.format, "mp3");
  EXPECT_DOUBLE_EQ(in->options.speed, 1.5);

  EXPECT_EQ(read_speech(speech_request("Hi", {"", 1.0, "aac"})).status().message(),
            "unknown response_format 'aac'; supported: wav, pcm, mp3, opus, flac");
  EXPECT_NE(read_speech(speech_request("  ", {})).status().message().find("empty"), std::string::npos);
  EXPECT_FALSE(read_speech(speech_request("Hi", {"", 5.0, "wav"})).ok());
  Result<Speech> out = read_speech_outputs(speech_outputs({"RIFF", 16000}));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->audio, "RIFF");
  EXPECT_EQ(out->sample_rate, 16000);
}

}  // namespace
}  // namespace modelpool::speech
