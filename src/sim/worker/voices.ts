// What GET /v1/voices returns: Unmute lists the voices of its voices.yaml marked `good`, dumped
// without the `comment` field. The simulator serves a few entries of the same shape; clients (and
// Unmute's own loadtest) use `source.path_on_server` of the first one as the session's voice.
export const SIM_VOICES = [
  {
    name: 'Watercooler',
    good: true,
    instructions: { type: 'smalltalk' },
    source: {
      source_type: 'file',
      path_on_server: 'unmute-prod-website/p329_022.wav',
      description: 'From the Device Recorded VCTK dataset.',
      description_link: 'https://datashare.ed.ac.uk/handle/10283/3038',
    },
  },
  {
    name: 'Dev (news)',
    good: true,
    instructions: { type: 'news' },
    source: {
      source_type: 'file',
      path_on_server: 'unmute-prod-website/developer-1.mp3',
      description: 'This is the voice of Václav Volhejn from Kyutai.',
      description_link: null,
    },
  },
  {
    name: 'Explanation',
    good: true,
    instructions: { type: 'unmute_explanation' },
    source: {
      source_type: 'file',
      path_on_server: 'unmute-prod-website/ex04_narration_longform_00001.wav',
      description: 'This voice comes from the Expresso dataset.',
      description_link: 'https://speechbot.github.io/expresso/',
    },
  },
] as const;
